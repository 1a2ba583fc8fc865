# The cluster suite (tests/cluster): real vesperd processes on 127.0.0.1 under kill -9,
# SIGSTOP/SIGCONT and restarts, with histories checked by build/lincheck. run.sh prints one
# ok/FAIL line per scenario and "N passed, N failed". `make test-cluster` runs it alone.
CLUSTER_TOOL_SRC := tests/cluster/cluster_tool.c tests/cluster/tool_status.c \
                    tests/cluster/tool_casrun.c $(VCLIENT_SRC) tests/lib/lincheck_history.c \
                    tests/lib/lincheck_multi.c
CLUSTER_BINS := $(BUILD)/vesperd $(BUILD)/vesper $(BUILD)/lincheck $(BUILD)/histgen \
                $(BUILD)/cluster-tool

$(call obj,tests/cluster/cluster_tool.c): EXTRA_CFLAGS += -Iclient

$(BUILD)/cluster-tool: $(call obj,$(CLUSTER_TOOL_SRC))
	$(CC) $^ $(CURL_LIBS) -lpthread -o $@

TEST_BINS += $(CLUSTER_BINS)
TEST_SUITES += "tests/cluster/run.sh"

.PHONY: test-cluster
test-cluster: $(CLUSTER_BINS)
	tests/cluster/run.sh
