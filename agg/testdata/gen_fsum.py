# Writes fsum.txt: 180 floats whose naive sum is far from math.fsum's
# (a, a random value in [0, 1), -a, for a spanning 1e-5 to 1e22), shuffled.
# Line 1: the naive sum and math.fsum; line 2: the values (repr).
import math, random
random.seed(16)
v = []
for i in range(60):
    a = random.uniform(-1, 1) * 10 ** random.randint(-5, 22)
    v += [a, random.uniform(0, 1), -a]
random.shuffle(v)
print('naive', repr(sum(v)), 'fsum', repr(math.fsum(v)))
print(', '.join(repr(x) for x in v))
