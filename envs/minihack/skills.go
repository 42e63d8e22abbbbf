package minihack

import (
	"math/rand/v2"
)

// The simple skill tasks of MiniHack: a 5 x 5 lit room with one thing to use and an event that
// says it was used. The plain task puts the thing and the hero at random; Fixed puts the thing
// in the top-left corner and the hero in the middle; Distr adds a random monster and a random
// object.

type skillThing struct {
	task string
	// put places the thing at p.
	put    func(g *LevelGenerator, p Place)
	reward func() *RewardManager
}

func onEvent(ev func() Event) func() *RewardManager {
	return func() *RewardManager { return NewRewardManager().Add(ev(), DefaultEvent()) }
}

func object(name string, symbol byte) func(g *LevelGenerator, p Place) {
	return func(g *LevelGenerator, p Place) { g.AddObject(name, symbol, p, "") }
}

// NLE key codes of the commands the positional events wait for.
const (
	keyPray  = 240 // M-p, #pray
	keyQuaff = 'q'
)

var skillThings = []skillThing{
	{"Eat", object("apple", '%'), onEvent(func() Event { return EatEvent("apple") })},
	{"Pray", func(g *LevelGenerator, p Place) { g.AddAltar(p, "neutral", "altar") }, onEvent(func() Event { return NewPositionalEvent("altar", keyPray) })},
	{"Sink", func(g *LevelGenerator, p Place) { g.AddSink(p) }, onEvent(func() Event { return NewPositionalEvent("sink", keyQuaff) })},
	{"Wield", object("dagger", ')'), onEvent(func() Event { return WieldEvent("dagger") })},
	{"Wear", object("robe", '['), onEvent(func() Event { return WearEvent("robe") })},
	{"PutOn", object("amulet of life saving", '"'), onEvent(func() Event { return AmuletEvent() })},
	{"Zap", object("enlightenment", '/'), onEvent(func() Event { return MessageEvent{[]string{"The feeling subsides."}} })},
	{"Read", object("blank paper", '?'), onEvent(func() Event { return MessageEvent{[]string{"This scroll seems to be blank."}} })},
}

func skillLevel(th skillThing, variant string) func(*rand.Rand) (string, error) {
	return func(*rand.Rand) (string, error) {
		o := DefaultLevelOptions()
		o.W, o.H = 5, 5
		g := NewLevelGenerator(o)
		switch variant {
		case "Fixed":
			th.put(g, At(0, 0))
			g.SetStart(2, 2)
		case "Distr":
			th.put(g, Random)
			g.AddMonster("random", 0, Random)
			g.AddObject("random", '%', Random, "")
		default:
			th.put(g, Random)
		}
		return g.Des()
	}
}

// Door levels: a room with a closed door in a subroom holding the stairs, and two rooms joined
// by a locked door (start and stairs at random in their rooms, or fixed).
const (
	closedDoorDes = `LEVEL: "mylevel"
ROOM: "ordinary", lit, (3,3), (center,center), (8,8) {
  SUBROOM: "ordinary", lit, random, (4,4) {
    STAIR: random, down
    ROOMDOOR: false, closed, random, random
  }
}
`
	twoRoomsMap = `MAZE: "mylevel",' '
INIT_MAP: solidfill,' '
GEOMETRY: center,center
MAP
-------------
|.....|.....|
|.....|.....|
|.....+.....|
|.....|.....|
|.....|.....|
-------------
ENDMAP
REGION: (0,0,12,6),lit,"ordinary"
`
	lockedDoorDes = twoRoomsMap + `$right_room = selection:fillrect (7,1,11,5)
BRANCH: (1,1,5,5),(0,0,0,0)
DOOR: locked,(6,3)
STAIR: rndcoord($right_room),down
`
	lockedDoorFixedDes = twoRoomsMap + `BRANCH: (3,3,3,3),(0,0,0,0)
DOOR: locked,(6,3)
STAIR: (8,3),down
`
)

func fixedDes(des string) func(*rand.Rand) (string, error) {
	return func(*rand.Rand) (string, error) { return des, nil }
}

func init() {
	for _, th := range skillThings {
		for _, v := range []string{"", "Fixed", "Distr"} {
			name := "MiniHack-" + th.task
			if v != "" {
				name += "-" + v
			}
			mustRegister(Skill(name+"-v0", skillLevel(th, v), th.reward))
		}
	}
	mustRegister(Skill("MiniHack-ClosedDoor-v0", fixedDes(closedDoorDes), nil))
	mustRegister(Skill("MiniHack-LockedDoor-v0", fixedDes(lockedDoorDes), nil))
	mustRegister(Skill("MiniHack-LockedDoor-Fixed-v0", fixedDes(lockedDoorFixedDes), nil))
}
