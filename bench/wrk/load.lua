-- load.lua: writes keys k0000001..kN once each (N = first script argument),
-- VALUE_BYTES-byte values (second argument), split across wrk threads and
-- connections; each thread stops when its share is done.
--   wrk -t2 -c64 -d600s -s bench/wrk/load.lua URL -- N VALUE_BYTES THREADS
local threads = {}
local counter = 0

function setup(thread)
   thread:set("tid", counter)
   counter = counter + 1
   table.insert(threads, thread)
end

function init(args)
   n = tonumber(args[1] or "1000000")
   local vbytes = tonumber(args[2] or "100")
   value = string.rep("v", vbytes)
   step = tonumber(args[3] or "2") -- the number of wrk threads
   next_key = tid + 1
   fails = 0
end

function request()
   if next_key > n then
      wrk.thread:stop()
      return wrk.format("GET", "/noop")
   end
   local k = string.format("k%07d", next_key)
   next_key = next_key + step
   local body = '{"type":"put","payload":{"key":"' .. k .. '","value":"' .. value .. '"}}'
   return wrk.format("PUT", "/request", {["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
   if status ~= 200 or not body:find('"success"', 1, true) then
      fails = fails + 1
   end
end

function done(summary, latency, requests)
   local f = 0
   for _, t in ipairs(threads) do
      f = f + (t:get("fails") or 0)
   end
   io.write(string.format("LOAD requests=%d errors=%d\n", summary.requests, f))
end
