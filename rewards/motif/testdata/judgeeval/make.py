# make.py: draws the judge evaluation set (../judge-eval.tsv, body only; the header is written by hand)
# from the distinct messages of Maestro's collected games, one per line in allcaps.txt (the union of
# the messages of `annotate collect` datasets and of harvest_test.go's captions2.tsv). The pools
# below were chosen by reading those messages; the drawn pairs were then checked by hand.
import re, random
caps = [l.rstrip('\n') for l in open('/tmp/msgs/allcaps.txt')]
caps = [c.strip() for c in caps]
S = set(caps)
def pick(rx, excl=None):
    out = sorted({c for c in caps if re.search(rx, c) and not (excl and re.search(excl, c))})
    return out
BAD = r"bites|hits|misses|zapped|weak|hungry|faint|Rotten|displeased|die|hurts|Ouch|stings|touches you|You are hit|You feel|confused|Blecch"
kill = pick(r"^You (kill|destroy) the [a-z ]+!( *Welcome to experience level \d\.)?$")
kill2 = pick(r"^You (kill|destroy) the [a-z ]+!  You (hear|see here) [^!]*\.$", BAD)
gold = pick(r"^\$ - (\d+ gold pieces|a gold piece)\.$")
gold2 = pick(r"^\$ - (\d+ gold pieces|a gold piece)\.  You (hear|see here) [^!]*\.$", BAD)
items = pick(r"^[h-z] - (a|an|\d+) (blessed |uncursed )?[a-z ]*(ring|potion|sword|dagger|sling|spear|food ration|candy bar|carrot|wand|amulet|scroll labeled [A-Z ]+|spellbook|gem|mail|helmet|shield|cloak|boots|gloves|arrows|darts|apple|orange|banana|melon|lamp|pick-axe)s?\.$", r"cursed")
stairs = pick(r"^There is a staircase down here\.")
level = pick(r"Welcome to experience level")
eat = pick(r"^(This [a-z ]+ is delicious!|You finish eating the (food ration|cram ration|lembas wafer|apple|melon|carrot|orange|banana|fortune cookie|candy bar|pancake|tripe ration|slime mold)\.)$")
feature = pick(r"^There is an altar to [A-Za-z ]+ \([a-z]+\) here\.$")
neutral = ["It's a wall.", "It's solid stone.", "You can't go down here.", "You can't go up here.", "Never mind.",
  "Unknown command '^M'.", "What a strange direction!", "You kick at empty space.", "That door is closed.",
  "You hear some noises.", "You hear some noises in the distance.", "You hear the footsteps of a guard on patrol.",
  "You hear a door open.", "You hear bubbling water.", "You hear water falling on coins.", "You cannot eat that!",
  "You can't move diagonally out of an intact doorway.", "You can't move diagonally into an intact doorway.",
  "In what direction?", "This door is locked.", "You try to move the boulder, but in vain.", "You hear someone counting money.",
  "There is nothing here to pick up.", "You don't have anything to rub.", "You are not wearing any rings.",
  "You don't know any spells right now.", "Invalid direction for 'G' prefix.", "Core dumped.", "You hear a gurgling noise.",
  "You are empty handed."]
danger = ["The jackal bites!", "The newt bites!", "The kobold zombie hits!", "The goblin hits!", "The kobold hits!",
  "The grid bug bites!  You get zapped!", "The sewer rat bites!", "The fox bites!", "You faint from lack of food.  You regain consciousness.",
  "You are beginning to feel weak.", "You are beginning to feel hungry.", "Blecch!  Rotten food!", "You feel that The Lady is displeased.",
  "Blecch!  Rotten food!  Everything suddenly goes dark.", "Ouch!  That hurts!", "You feel your magical energy drain away.",
  "Blecch!  Rotten food!  You feel rather light headed.", "The goblin thrusts her short sword.  The goblin hits!",
  "You feel weak!  You haven't been exercising properly.", "Thump!  You faint from lack of food.  You regain consciousness."]
pets_neutral = ["You swap places with your kitten.", "You swap places with your little dog.", "You stop.  Your kitten is in the way!",
  "You stop.  Your little dog is in the way!", "A kitten blocks your path.", "A little dog blocks your path."]
pets_gold = pick(r"^(The (kitten|little dog)|Hachi) picks up a gold piece\.$")
for name, l in [("kill",kill),("kill2",kill2),("gold",gold),("gold2",gold2),("items",items),("stairs",stairs),("level",level),("eat",eat),("feature",feature),("petsgold",pets_gold)]:
    print(name, len(l), l[:6])
for c in neutral+danger+pets_neutral:
    assert c in S, c
rng = random.Random(7)
pairs = []
def add(good, bad, cat, n):
    for _ in range(n):
        pairs.append((rng.choice(good), rng.choice(bad), cat))
add(kill, neutral, "kill", 34); add(kill2, neutral, "kill", 6); add(kill, [""], "kill", 4); add(kill, danger[:8], "kill", 8)
add(gold, neutral, "gold", 26); add(gold2, neutral, "gold", 6); add(gold, [""], "gold", 4); add(gold, pets_gold, "gold", 6)
add(items, neutral, "item", 22); add(items, [""], "item", 4)
add(stairs, neutral, "descend", 22); add(stairs, [""], "descend", 4)
add(level, neutral, "levelup", 14); add(level, [""], "levelup", 2); add(level, danger, "levelup", 4)
add(eat, ["You are beginning to feel hungry.", "You are beginning to feel weak.", "You faint from lack of food.  You regain consciousness.", "Blecch!  Rotten food!"], "eat", 10)
add(eat, neutral, "eat", 10)
add(neutral, danger, "danger", 36); add([""], danger, "danger", 10)
add(pets_neutral, danger, "pet", 12)
add(feature, neutral, "altar", 14)
add(["You are beginning to feel hungry."], ["You are beginning to feel weak.", "You faint from lack of food.  You regain consciousness."], "hunger", 0)
seen=set(); uniq=[]
for g,b,c in pairs:
    if (g,b) in seen or g==b: continue
    seen.add((g,b)); uniq.append((g,b,c))
print(len(uniq))
rng.shuffle(uniq)
with open('/tmp/evalgen/judge-eval.tsv','w') as f:
    for i,(g,b,c) in enumerate(uniq):
        if i%2==0: f.write(f"{g}\t{b}\t1\t{c}\n")
        else: f.write(f"{b}\t{g}\t2\t{c}\n")
