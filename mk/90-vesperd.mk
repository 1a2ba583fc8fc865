# vesperd: the one static server binary (shell + core + storage + transport + kv).
NODE_SRC := src/main.c $(sort $(wildcard src/node/*.c))
VESPERD_SRC := $(NODE_SRC) $(REPLICA_SRC) $(CONFIG_SRC) $(KV_SRC) $(API_SRC) $(STORAGE_SRC) $(NET_SRC) \
               $(UTIL_SRC)

$(call obj,$(NODE_SRC)) $(call san,$(NODE_SRC)): EXTRA_CFLAGS += $(H2O_CFLAGS)
$(call obj,$(NODE_SRC)) $(call san,$(NODE_SRC)): | $(H2O_LIB)

$(BUILD)/vesperd: $(call obj,$(VESPERD_SRC)) $(BUILD)/libraftcore.a $(H2O_LIB)
	$(CC) $(call obj,$(VESPERD_SRC)) $(BUILD)/libraftcore.a $(STATIC_LIBS) -o $@ 2>&1 | \
	    { grep -v 'statically linked applications requires at runtime\|in function' || true; }
	@test -x $@

ALL_BINS += $(BUILD)/vesperd
