# Third-party dependencies: Debian packages plus a static libh2o-evloop.a built
# from Debian's h2o source package (Debian ships h2o only as shared libraries).
# `make deps` runs deploy/deps.sh (idempotent; root for apt). Anything linking
# $(H2O_LIB) triggers it when the archive is missing.
DEPS_DIR := $(BUILD)/deps
H2O_LIB := $(DEPS_DIR)/lib/libh2o-evloop.a

# h2o headers are included as system headers: they trip -Wpedantic/-Wshadow and
# are not ours to fix. -DH2O_USE_LIBUV=0 is mandatory: libh2o-evloop is built
# without libuv, and without the define its headers default to the libuv binding.
H2O_CFLAGS := -DH2O_USE_LIBUV=0 -isystem $(DEPS_DIR)/include

# Dynamic link for test binaries (ASan cannot be static); h2o itself stays static.
H2O_LIBS := $(H2O_LIB) -lssl -lcrypto -lz -lpthread
# The full static link line of vesperd.
STATIC_LIBS := -static $(H2O_LIB) -ljson-c -lssl -lcrypto -lz -lpthread -lm
# The client and test tools link libcurl dynamically.
CURL_LIBS := $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl) -ljson-c

.PHONY: deps
deps:
	JOBS=2 deploy/deps.sh $(BUILD)

$(H2O_LIB):
	JOBS=2 deploy/deps.sh $(BUILD)

# The same h2o sources and patch compiled with ASan+UBSan, for build/vesperd-san. The
# script rebuilds only when its stamp is stale; the touch keeps make from asking again.
H2O_SAN_LIB := $(DEPS_DIR)/lib/libh2o-evloop-san.a
$(H2O_SAN_LIB): $(H2O_LIB) deploy/build-h2o.sh
	deploy/build-h2o.sh "$$(find $(DEPS_DIR)/src -maxdepth 1 -type d -name 'h2o-*' | head -n 1)" \
	    $(DEPS_DIR) $(CC) 2 san
	@touch $@

# Objects that include h2o headers get $(H2O_CFLAGS) from their module's fragment and
# list $(H2O_LIB) as an order-only prerequisite (`$(OBJS): | $(H2O_LIB)`) so the
# headers exist first.
