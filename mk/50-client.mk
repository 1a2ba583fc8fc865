# The `vesper` client: a small library (client/vclient.c, libcurl + json-c) and
# the CLI (client/main.c, client/kvcmd.c). Dynamically linked; tests and benchmarks reuse
# $(VCLIENT_SRC). tests/client/test_vesper_cli.py checks it against stub servers.
VCLIENT_SRC := client/vclient.c client/vwire.c
VESPER_CLI_SRC := client/main.c client/endpoints.c client/ops.c client/kvcmd.c client/snapshot.c \
                  client/watchcmd.c client/leasecmd.c client/options.c $(VCLIENT_SRC) src/util/backup_file.c src/util/crc32c.c

$(BUILD)/vesper: $(call obj,$(VESPER_CLI_SRC))
	$(CC) $^ $(CURL_LIBS) -o $@

ALL_BINS += $(BUILD)/vesper

# CLI behaviour against scripted stub servers (python3 stdlib only), run on an
# ASan+UBSan build of the same sources.
$(BUILD)/vesper-san: $(call san,$(VESPER_CLI_SRC))
	$(CC) $(TEST_LDFLAGS) $^ $(CURL_LIBS) -o $@

TEST_BINS += $(BUILD)/vesper $(BUILD)/vesper-san
TEST_SUITES += "VESPER=$(BUILD)/vesper-san python3 tests/client/test_vesper_cli.py"
