# The pure Raft core (its simulation suite is in 25-sim.mk).
$(BUILD)/libraftcore.a: $(call obj,$(RAFT_SRC))
	@mkdir -p $(dir $@)
	ar rcs $@ $^
