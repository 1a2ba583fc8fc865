# vesperd: the one static server binary (shell + core + storage + transport + kv).
NODE_SRC := src/main.c $(sort $(wildcard src/node/*.c))
VESPERD_SRC := $(NODE_SRC) $(REPLICA_SRC) $(CONFIG_SRC) $(KV_SRC) $(API_SRC) $(STORAGE_SRC) $(NET_SRC) \
               $(UTIL_SRC)

$(call obj,$(NODE_SRC)) $(call san,$(NODE_SRC)): EXTRA_CFLAGS += $(H2O_CFLAGS)
$(call obj,$(NODE_SRC)) $(call san,$(NODE_SRC)): | $(H2O_LIB)

# The console page (src/ui/console.html) goes into the binary as a byte array in a
# generated header, written with od and sed (in every build image; no length limit of a
# C string literal applies to an array).
CONSOLE_HTML_H := $(BUILD)/gen/console_html.h
$(CONSOLE_HTML_H): src/ui/console.html
	@mkdir -p $(dir $@)
	{ echo '/* Generated from src/ui/console.html by mk/90-vesperd.mk. Do not edit. */'; \
	  echo 'static const unsigned char console_html[] = {'; \
	  od -An -v -tx1 $< | sed -e 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	  echo '};'; } >$@.tmp && mv $@.tmp $@
$(call obj,src/node/console.c) $(call san,src/node/console.c): $(CONSOLE_HTML_H)
$(call obj,src/node/console.c) $(call san,src/node/console.c): EXTRA_CFLAGS += -I$(BUILD)/gen

$(BUILD)/vesperd: $(call obj,$(VESPERD_SRC)) $(BUILD)/libraftcore.a $(H2O_LIB)
	$(CC) $(call obj,$(VESPERD_SRC)) $(BUILD)/libraftcore.a $(STATIC_LIBS) -o $@ 2>&1 | \
	    { grep -v 'statically linked applications requires at runtime\|in function' || true; }
	@test -x $@

ALL_BINS += $(BUILD)/vesperd
