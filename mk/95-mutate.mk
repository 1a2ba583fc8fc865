# Mutation runs (tests/mutate): each patch plants one classic Raft or durability bug in a
# copy of the tree under build/mutate; the random simulation must kill every one within
# the seed budget of `make test`. Prints a table and "N passed, N failed" (N killed,
# N survived). Not part of `make test` (a few minutes); SEEDS/STEPS size the budget.
#
#   make mutate                      every mutation, 2,000 seeds each at most
#   make mutate SEEDS=5000 MUTATIONS=tests/mutate/01-figure8-count-old-term.patch

.PHONY: mutate
mutate: $(H2O_LIB)
	tests/mutate/run.sh --seeds $(SEEDS) --steps $(STEPS) $(MUTATIONS)
