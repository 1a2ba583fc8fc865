-- kv.lua: the one wrk workload used for both Vesper and etcd (bench/bench.sh).
--
--   wrk ... -s bench/wrk/kv.lua URL -- SYSTEM MODE NKEYS VALUE_BYTES [SPAN [LEASE]]
--     SYSTEM  vesper | etcd
--     MODE    put | get | mix (90% get, 10% put) | noop (vesper GET /noop)
--             | range (SPAN consecutive keys from a random key, default 100)
--             | lput (put attached to lease LEASE, a decimal id from a lease grant)
--
-- Keys are "k00001".."kNNNNN" chosen uniformly at random per request; each wrk
-- thread writes one random VALUE_BYTES-byte value. Every request string is
-- built once in init() so the per-request Lua cost is a table lookup, the same
-- for both systems: the benchmark measures the servers, not the Lua encoder.
--
-- Vesper: PUT/GET /request with the v1 protocol's JSON body (a linearizable read is
-- the default). etcd: its JSON gateway, POST /v3/kv/put and /v3/kv/range with
-- base64 key and value (range is linearizable unless "serializable" is set).
-- A range reads keys [k_i, k_(i+SPAN)) with limit SPAN, i uniform in 1..NKEYS-SPAN+1:
-- Vesper's "range" type with start/end/limit, etcd's key/range_end/limit. A leased put
-- carries "lease":LEASE (a JSON number for Vesper; etcd's gateway takes the int64 as a
-- string, as it prints it).
--
-- A response counts as an error when its status is not 200 or its body says
-- "code":"fail" (Vesper) or carries "error" (etcd gateway): a redirect or an
-- election answer must not pass for throughput. done() prints one
-- machine-readable line starting with "BENCH " that bench/lib.sh parses.

local system, mode = "vesper", "put"
local nkeys, vbytes = 10000, 100
local span, lease = 100, nil
local put_reqs, get_reqs, range_reqs = {}, {}, {}
local noop_req = nil
local threads = {}
local next_tid = 0
fails = 0

local b64c = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function b64(s)
   local out = {}
   for i = 1, #s, 3 do
      local a, b, c = s:byte(i, i + 2)
      local n = a * 65536 + (b or 0) * 256 + (c or 0)
      local c1 = math.floor(n / 262144) % 64
      local c2 = math.floor(n / 4096) % 64
      local c3 = math.floor(n / 64) % 64
      local c4 = n % 64
      out[#out + 1] = b64c:sub(c1 + 1, c1 + 1) .. b64c:sub(c2 + 1, c2 + 1)
         .. (b and b64c:sub(c3 + 1, c3 + 1) or "=")
         .. (c and b64c:sub(c4 + 1, c4 + 1) or "=")
   end
   return table.concat(out)
end

function setup(thread)
   next_tid = next_tid + 1
   thread:set("tid", next_tid)
   table.insert(threads, thread)
end

local function random_value(n)
   local alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
   local t = {}
   for i = 1, n do
      local j = math.random(1, #alphabet)
      t[i] = alphabet:sub(j, j)
   end
   return table.concat(t)
end

function init(args)
   system = args[1] or system
   mode = args[2] or mode
   nkeys = tonumber(args[3] or nkeys)
   vbytes = tonumber(args[4] or vbytes)
   span = tonumber(args[5] or span)
   lease = args[6]
   math.randomseed(os.time() * 1000 + (tid or 0))
   local hdr = { ["Content-Type"] = "application/json" }
   if mode == "noop" then
      noop_req = wrk.format("GET", "/noop")
      return
   end
   local value = random_value(vbytes)
   local bvalue = b64(value)
   if mode == "range" then
      for i = 1, nkeys - span + 1 do
         local a, b = string.format("k%05d", i), string.format("k%05d", i + span)
         if system == "etcd" then
            range_reqs[i] = wrk.format("POST", "/v3/kv/range", hdr, '{"key":"' .. b64(a)
               .. '","range_end":"' .. b64(b) .. '","limit":' .. span .. '}')
         else
            range_reqs[i] = wrk.format("POST", "/request", hdr, '{"type":"range","payload":'
               .. '{"start":"' .. a .. '","end":"' .. b .. '","limit":' .. span .. '}}')
         end
      end
      return
   end
   local elease, vlease = "", ""
   if mode == "lput" then
      elease, vlease = ',"lease":"' .. lease .. '"', ',"lease":' .. lease
   end
   for i = 1, nkeys do
      local key = string.format("k%05d", i)
      if system == "etcd" then
         local bkey = b64(key)
         put_reqs[i] = wrk.format("POST", "/v3/kv/put", hdr,
            '{"key":"' .. bkey .. '","value":"' .. bvalue .. '"' .. elease .. '}')
         get_reqs[i] = wrk.format("POST", "/v3/kv/range", hdr, '{"key":"' .. bkey .. '"}')
      else
         put_reqs[i] = wrk.format("PUT", "/request", hdr,
            '{"type":"put","payload":{"key":"' .. key .. '","value":"' .. value .. '"'
            .. vlease .. '}}')
         get_reqs[i] = wrk.format("GET", "/request", hdr,
            '{"type":"get","payload":{"key":"' .. key .. '"}}')
      end
   end
end

function request()
   if noop_req then
      return noop_req
   end
   if mode == "range" then
      return range_reqs[math.random(1, #range_reqs)]
   end
   local i = math.random(1, nkeys)
   if mode == "put" or mode == "lput" or (mode == "mix" and math.random() < 0.1) then
      return put_reqs[i]
   end
   return get_reqs[i]
end

function response(status, headers, body)
   if status ~= 200 then
      fails = fails + 1
   elseif noop_req == nil and body and (body:find('"code":"fail"', 1, true)
         or body:find('"error"', 1, true)) then
      fails = fails + 1
   end
end

function done(summary, latency, requests)
   local f = 0
   for _, t in ipairs(threads) do
      f = f + (t:get("fails") or 0)
   end
   local e = summary.errors
   local errors = f + e.connect + e.read + e.write + e.timeout
   io.write(string.format(
      "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d p999_us=%d max_us=%d errors=%d\n",
      summary.requests, summary.duration, latency:percentile(50),
      latency:percentile(99), latency:percentile(99.9), latency.max, errors))
end
