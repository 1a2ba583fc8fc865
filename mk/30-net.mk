# src/net: the peer wire codec (pure) and the h2o transport, with their suite.
NET_SRC := src/net/codec.c src/net/codec_decode.c src/net/transport.c src/net/transport_send.c src/net/transport_recv.c src/net/transport_reply.c src/net/bearer.c \
           src/net/transport_stats.c src/net/tls.c src/net/tls_verify.c
NET_CODEC_SRC := src/net/codec.c src/net/codec_decode.c
NET_TEST_SRC := tests/net/test_codec.c tests/net/codec_samples.c tests/net/test_transport.c \
                tests/net/test_transport_reply.c \
                tests/net/pair.c

# raft_conf_encode/decode come from the core's archive.
NET_CONF_LINK := $(BUILD)/libraftcore.a

$(call obj,$(NET_SRC) $(NET_TEST_SRC) bench/codec_bench.c) \
$(call san,$(NET_SRC) $(NET_TEST_SRC)): | $(H2O_LIB)

NET_TEST_OBJS := $(call san,$(NET_SRC) $(NET_TEST_SRC) $(TEST_LIB_SRC) $(UTIL_SRC))
$(BUILD)/test-net: $(NET_TEST_OBJS) $(NET_CONF_LINK) $(H2O_LIB)
	$(CC) $(TEST_LDFLAGS) $(NET_TEST_OBJS) $(NET_CONF_LINK) $(H2O_LIBS) -o $@

TEST_BINS += $(BUILD)/test-net
TEST_SUITES += "$(BUILD)/test-net"

# Binary codec vs json-c on a typical APPEND batch: `make bench-codec`.
NET_BENCH_OBJS := $(call obj,bench/codec_bench.c tests/net/codec_samples.c $(NET_CODEC_SRC))
$(BUILD)/codec-bench: $(NET_BENCH_OBJS) $(NET_CONF_LINK)
	$(CC) $(NET_BENCH_OBJS) $(NET_CONF_LINK) -ljson-c -o $@

.PHONY: bench-codec
bench-codec: $(BUILD)/codec-bench
	$(BUILD)/codec-bench

# The transport and its tests include h2o headers.
$(BUILD)/obj/src/net/%.o $(BUILD)/san/src/net/%.o $(BUILD)/obj/tests/net/%.o \
$(BUILD)/san/tests/net/%.o: EXTRA_CFLAGS += $(H2O_CFLAGS)
