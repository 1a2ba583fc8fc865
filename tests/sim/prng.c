/* prng.c: the simulation's seeded generator (splitmix64) and the hashes that digest
 * states and traces. Everything random in a run draws from a state seeded by the
 * seed, so a run is a pure function of it. Kept apart from the world so the
 * simulated disk (simfs) links without it, as the storage fuzzer does.
 */
#include "sim/sim.h"

uint64_t sim_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t sim_range(uint64_t *state, uint64_t n)
{
    return n ? sim_rand(state) % n : 0;
}

bool sim_chance(uint64_t *state, uint32_t per_mille)
{
    return sim_range(state, 1000) < per_mille;
}

uint64_t sim_hash_bytes(const void *p, size_t n, uint64_t h)
{
    const uint8_t *b = p;
    h ^= 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

uint64_t sim_mix(uint64_t a, uint64_t b)
{
    uint64_t s = a * 0x9e3779b97f4a7c15ULL + b;
    return sim_rand(&s);
}
