package minihack

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/maestro-rl/maestro/envs/nethack"
)

// NLE's command keys the KeyRoom tasks add to the moves.
const (
	keyApply  = 'a'
	keyPickup = ','
)

// keyRoomDes is MiniHack's key-and-door level: a room of RS x RS around a subroom of SS x SS
// holding the stairs behind a locked door, and a skeleton key somewhere in the room.
const keyRoomDes = `LEVEL: "mylevel"

ROOM: "ordinary" , lit, (3,3), (center,center), (RS,RS) {
    SUBROOM:"ordinary",lit,random,(SS,SS) {
        STAIR: random, down
        ROOMDOOR: false , locked , random, random
        }
    OBJECT:('(',"skeleton key"),random,blessed,0,name:"The Master Key of Thievery"
    }`

// keyRoomFixedDes is KeyRoom-Fixed-S5's level: the 2x2 subroom in the 5x5 room's corner, its
// locked door at a fixed place.
const keyRoomFixedDes = `LEVEL: "mylevel"

ROOM: "ordinary" , lit, (3,3), (center,center), (5,5) {
    SUBROOM:"ordinary",lit,(0,0),(2,2) {
        STAIR: random, down
        }
    OBJECT:('(',"skeleton key"),random,blessed,0,name:"The Master Key of Thievery"
    DOOR:locked,(2,1)
    }`

// keyRoom is MiniHack's KeyRoomGenerator: the template with the sizes filled in, unlit when
// dark (every "lit" becomes "unlit", as MiniHack replaces it).
func keyRoom(room, sub int, lit bool) func(*rand.Rand) (string, error) {
	return func(*rand.Rand) (string, error) {
		des := strings.ReplaceAll(keyRoomDes, "RS", strconv.Itoa(room))
		des = strings.ReplaceAll(des, "SS", strconv.Itoa(sub))
		if !lit {
			des = strings.ReplaceAll(des, "lit", "unlit")
		}
		return des, nil
	}
}

// keyDoor returns a KeyRoom task's spec as MiniHack's MiniHackKeyDoor sets it: the moves,
// pick up and apply, a chaotic human rogue, autopickup off, steps (200 unless given); when the
// agent applies with a key in its inventory and a closed door next to the hero, the key is
// applied to that door, the unlocking confirmed, and the hero walks into the door until it is
// open (applyKeyToDoor).
func keyDoor(name string, steps int, level func(*rand.Rand) (string, error)) TaskSpec {
	t := Navigation(name, steps, level)
	t.Actions = append(t.Actions, keyPickup, keyApply)
	t.Autopickup = false
	t.BeforeStep = applyKeyToDoor
	t.GameKeys = []string{"inv_strs", "inv_letters"} // screen_descriptions: always observed
	return t
}

// maxDoorPushes bounds applyKeyToDoor's walking into the unlocked door (MiniHack loops until
// it opens; a door that never opens would hang it).
const maxDoorPushes = 100

// applyKeyToDoor is MiniHackKeyDoor.step's part before NLE's step.
func applyKeyToDoor(e *nethack.TaskEnv, action int) (bool, error) {
	if e.Action(action) != keyApply {
		return false, nil
	}
	o := e.Obs()
	key, ok := inventoryLetter(o, "key")
	if !ok {
		return false, nil
	}
	dir, ok := neighbourDirection(o, "closed door")
	if !ok {
		return false, nil
	}
	for _, k := range []uint8{keyApply, key, dir} {
		if done, err := e.RawStep(k); done || err != nil {
			return done, err
		}
	}
	done, err := e.RawStep('y')
	if err == nil {
		done, err = e.KnownSteps(done)
	}
	for i := 0; i < maxDoorPushes && !done && err == nil; i++ {
		if done, err = e.RawStep(dir); err == nil {
			done, err = e.KnownSteps(done)
		}
		if _, closed := neighbourDirection(o, "closed door"); !closed {
			break
		}
	}
	return done, err
}

// inventoryLetter is MiniHack's key_in_inventory: the letter of the first inventory item whose
// text holds name.
func inventoryLetter(o *nethack.Observation, name string) (uint8, bool) {
	const width = 80
	for i, letter := range o.InvLetters {
		line := o.InvStrs[i*width : (i+1)*width]
		if !slices.ContainsFunc(line, func(b uint8) bool { return b != 0 }) {
			break
		}
		if bytes.Contains(line, []byte(name)) {
			return letter, true
		}
	}
	return 0, false
}

// neighbourDirection is MiniHack's get_object_direction: the direction key of the first of
// the nine cells around the hero (row by row from the north-west; the hero's own cell has
// none) whose screen description holds name.
func neighbourDirection(o *nethack.Observation, name string) (uint8, bool) {
	const desc = 80
	dirs := [9]uint8{'y', 'k', 'u', 'h', 0, 'l', 'b', 'j', 'n'}
	x, y := int(o.Blstats[nethack.BlX]), int(o.Blstats[nethack.BlY])
	for j := range 3 {
		for i := range 3 {
			r, c := y-1+j, x-1+i
			if r < 0 || r >= nethack.Rows || c < 0 || c >= nethack.Cols {
				continue
			}
			d := o.ScreenDescriptions[(r*nethack.Cols+c)*desc : (r*nethack.Cols+c+1)*desc]
			if n := bytes.IndexByte(d, 0); n >= 0 {
				d = d[:n]
			}
			if bytes.Contains(d, []byte(name)) {
				if dirs[j*3+i] == 0 { // MiniHack returns None for the hero's cell
					return 0, false
				}
				return dirs[j*3+i], true
			}
		}
	}
	return 0, false
}

func init() {
	mustRegister(keyDoor("MiniHack-KeyRoom-Fixed-S5-v0", 200, func(*rand.Rand) (string, error) { return keyRoomFixedDes, nil }))
	mustRegister(keyDoor("MiniHack-KeyRoom-S5-v0", 200, keyRoom(5, 2, true)))
	mustRegister(keyDoor("MiniHack-KeyRoom-Dark-S5-v0", 200, keyRoom(5, 2, false)))
	mustRegister(keyDoor("MiniHack-KeyRoom-S15-v0", 400, keyRoom(15, 5, true)))
	mustRegister(keyDoor("MiniHack-KeyRoom-Dark-S15-v0", 400, keyRoom(15, 5, false)))
}
