# Mutation runs (tests/mutate): each patch plants one classic Raft or durability bug in a
# copy of the tree under build/mutate; the random simulation must kill every one within
# the seed budget of `make test` (SIM_SUITE_SEEDS). Prints a table and "N passed,
# N failed" (N killed, N survived). Not part of `make test`: each mutation rebuilds the
# simulator, so a full run takes several minutes.
#
#   make mutate
#   make mutate MUTATE_SEEDS=5000 MUTATIONS=tests/mutate/01-figure8-count-old-term.patch

MUTATE_SEEDS ?= $(SIM_SUITE_SEEDS)

.PHONY: mutate
mutate: $(H2O_LIB)
	tests/mutate/run.sh --seeds $(MUTATE_SEEDS) --steps $(STEPS) $(MUTATIONS)
