# agent-obs.sh, sourced by make-reward-model.sh and make-skill-rewards.sh: agent_obs WORK POLICY
# STEPS writes WORK/obs.mtd (unless there) with NetHackScore observations of POLICY: "train"
# trains `make train`'s job into WORK/agent first and acts with it, "random" acts uniformly,
# anything else is a train run's params.mtd. It sets agent_policy to the params file used (or
# random) and agent_sha256 to its checksum (or -). Needs bin/train and bin/annotate.
agent_obs() {
  local work=$1 steps=$3
  agent_policy=$2
  if [ "$agent_policy" = train ]; then
    [ -f "$work/agent/params.mtd" ] || ./bin/train --algo appo --env NetHackScore --reward motif --num-envs 8 --frames-per-batch 32 --total-frames 200000 --seed 1 --run-dir "$work/agent" --force
    agent_policy=$work/agent/params.mtd
  fi
  if [ ! -f "$work/obs.mtd" ]; then
    if [ "$agent_policy" = random ]; then
      ./bin/annotate collect --task score --steps "$steps" --envs 4 --seed 3 --no-tty --out "$work/obs.mtd"
    else
      ./bin/annotate collect --task score --steps "$steps" --envs 4 --seed 3 --policy "$agent_policy" --out "$work/obs.mtd"
    fi
  fi
  if [ "$agent_policy" = random ]; then agent_sha256=-; else agent_sha256=$(sha256sum "$agent_policy" | cut -d' ' -f1); fi
}
