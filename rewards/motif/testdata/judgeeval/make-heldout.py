# make-heldout.py: draws the held-out judge evaluation set (../judge-heldout.tsv, body only; the
# header is written by hand) from messages that the main set (../judge-eval.tsv) never uses: the
# distinct messages of other characters' random games (HARVEST=heldout go test ., seeds 200-207)
# and of a trained agent's games (annotate collect --policy ... --seed 41, then
# HARVEST_OBS=... HARVEST_OUT=... go test -run TestMessagesOfDataset .), one per line in
# /tmp/msgs/hopool.txt. Unlike make.py, every pool is a pattern written before any judge saw
# these messages (no hand-picked lists), so the set tests whether a prompt or protocol tuned on
# the main set carries over. The drawn pairs were then read and checked by hand.
import re, random, os
here = os.path.dirname(os.path.abspath(__file__))
used = set()
for l in open(os.path.join(here, '..', 'judge-eval.tsv')):
    if l.startswith('#') or not l.strip():
        continue
    p = l.rstrip('\n').split('\t')
    used.update(p[:2])
caps = sorted({l.rstrip('\n').strip() for l in open('/tmp/msgs/hopool.txt')} - used - {''})
BAD = r"bites|hits|stings|butts|kicks|claws|touches you|zapped|weak|hungry|faint|Rotten|displeased|hurts|Ouch|You are hit|confused|Blecch|burn|poison|You feel|steals|dies|killed"
QUESTION = r"\?|\[yn|--More--"
def pick(rx, excl=None):
    return [c for c in caps if re.search(rx, c) and not (excl and re.search(excl, c)) and not re.search(QUESTION, c)]
kill = pick(r"^You (kill|destroy) the [a-z ]+!", BAD)
levelup = pick(r"Welcome to experience level", BAD + r"|bites|hits")
gold = pick(r"^\$ - (\d+ gold pieces|a gold piece)\.", BAD + r"|picks up|drops")
items = pick(r"^[a-zA-Z] - (a|an|\d+) [^()]*\.$", BAD + r"|\bcursed|corpse|boulder|rock|stone|statue|large box|You see here|picks up|\(")
stairs = pick(r"^There is a staircase down here\.")
eat = pick(r"^(This [a-z ]+ is delicious!|You finish eating the [a-z ]+\.)", BAD)
altar = pick(r"^There is an altar to [A-Za-z ]+ \([a-z]+\) here\.$")
harm = pick(r"^(The|It) [a-z ]*(hits|bites|stings|butts|kicks|claws)!$|^(The|It) [a-z ]*(hits|bites|stings)!  (The|It) [a-z ]*(hits|bites|stings|misses)!$|^You are beginning to feel (hungry|weak)\.$|^Blecch!  Rotten food!|You faint from lack of food")
neutral = pick(r"^(You hear [^!]*\.|It's (a wall|solid stone)\.|You can't (go|move) [^!]*\.|This door is (locked|closed)\.|You kick at empty space\.|There is (a doorway|an open door|a broken door) here\.|You see no door there\.|You have no [a-z ]+\.|You don't have [^!]*\.|You are not [^!]*\.|You (are|aren't) [a-z ]+\.|Never mind\.|Unknown command '[^']*'\.|What a strange direction!|You cannot [^!]*\.|There is nothing here to pick up\.|You try to move the boulder, but in vain\.|Perhaps that's why you cannot move past it\.)$", BAD + r"|corpse|gold|dagger|potion|scroll|ring|wand|almost hit|trap|pit|asleep|Banshee|conscious|You see here|feels better|misses the|quiver|(jackal|newt|gecko|grid bug) blocks")
pets = pick(r"^(You swap places with (your|Sirius|Slasher|Idefix|Hachi|Fido|Tom|Dog)[a-z ]*\.|You stop\.  [A-Z][a-z]* (little dog|kitten|pony|is) [^!]*in the way!|An? (kitten|little dog|pony) blocks your path\.)$", BAD)
for name, l in [("kill", kill), ("levelup", levelup), ("gold", gold), ("item", items), ("stairs", stairs), ("eat", eat), ("altar", altar), ("harm", harm), ("neutral", neutral), ("pets", pets)]:
    print(name, len(l), l[:5])
rng = random.Random(17)
pairs = []
def add(good, bad, cat, n):
    for _ in range(n):
        pairs.append((rng.choice(good), rng.choice(bad), cat))
add(kill, neutral, "kill", 14); add(kill, [""], "kill", 2); add(kill, harm, "kill", 4)
# (no level-up message outside the main set was seen)
add(gold, neutral, "gold", 16); add(gold, [""], "gold", 3)
add(items, neutral, "item", 16); add(items, [""], "item", 3)
add(stairs, neutral, "descend", 8)
add(eat, neutral + ["You are beginning to feel hungry."], "eat", 10)
add(altar, neutral, "altar", 6)
add(neutral, harm, "danger", 34); add([""], harm, "danger", 6)
add(pets, harm, "pet", 10)
seen = set(); uniq = []
for g, b, c in pairs:
    if (g, b) in seen or g == b:
        continue
    seen.add((g, b)); uniq.append((g, b, c))
rng.shuffle(uniq)
# Read by hand: a gold piece beside a dead dog is no obvious win (the dog may be the hero's pet).
uniq = [u for u in uniq if not re.search(r"dog corpse|kitten corpse", u[0] + u[1])]
# "You are beginning to feel hungry." is a main-set caption: its one draw becomes a held-out
# hunger-free harm message, so that no caption is shared.
uniq = [(g, "The gecko bites!" if b and b in used else b, c) for g, b, c in uniq]
print(len(uniq))
with open('/tmp/evalgen/judge-heldout.tsv', 'w') as f:
    for i, (g, b, c) in enumerate(uniq):
        if i % 2 == 0:
            f.write(f"{g}\t{b}\t1\t{c}\n")
        else:
            f.write(f"{b}\t{g}\t2\t{c}\n")
