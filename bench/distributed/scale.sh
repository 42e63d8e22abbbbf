#!/bin/bash
# The scale run of docs/distributed.md: a standalone broker, a learner and N actor processes on
# this machine; prints the learner rate, the policy lag and the latency.
# usage: bench/distributed/scale.sh ENV ACTORS ENVS_PER_ACTOR LEARNER_ENVS FRAMES MAX_AHEAD
#   e.g. bench/distributed/scale.sh CartPole 16 1 16 60000 4   (TRAIN=bin/train, after make build)
set -u
TRAIN=${TRAIN:-bin/train}
d=$(mktemp -d)
"$TRAIN" broker --store $d/store --listen 127.0.0.1:4555 > $d/b.log 2>&1 &
B=$!
"$TRAIN" --env $1 --frames-per-batch 32 --total-frames $5 --run-dir $d/run --checkpoint-every 20 --num-envs $4 --broker nats://127.0.0.1:4555 --run s --broker-max-ahead $6 > $d/l.log 2>&1 &
L=$!
for i in $(seq 1 $2); do "$TRAIN" actor --broker nats://127.0.0.1:4555 --run s --num-envs $3 --actor-id a$i > $d/a$i.log 2>&1 & done
wait $L
sleep 2; kill $B
python3 - $d/run <<'P'
import csv,sys,statistics
r=list(csv.reader(open(sys.argv[1]+'/log.csv')))
f0,s0=float(r[1][0]),float(r[1][1]); f1,s1=float(r[-1][0]),float(r[-1][1])
u=list(csv.DictReader(open(sys.argv[1]+'/unrolls.csv')))
used=[x for x in u if x['status']=='used']
lag=[float(x['lag']) for x in used]
print("learner fps %.0f; unrolls used %d; policy lag mean %.2f max %.0f; actors seen %d"%((f1-f0)/(s1-s0),len(used),statistics.mean(lag),max(lag),len(set(x['actor'] for x in used))))
P
grep -h "latency\|not published" $d/l.log
echo $d
