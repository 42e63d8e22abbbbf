package nethack

import (
	"fmt"
	"slices"
	"strings"
)

var (
	roles   = []string{"arc", "bar", "cav", "hea", "kni", "mon", "pri", "rog", "ran", "sam", "tou", "val", "wiz"}
	races   = []string{"hum", "elf", "dwa", "gno", "orc"}
	genders = []string{"mal", "fem"}
	aligns  = []string{"law", "neu", "cha"}
)

// DefaultCharacter is NLE's default character: a neutral male human monk.
const DefaultCharacter = "mon-hum-neu-mal"

// playerName validates a character string (role[-race[-alignment[-gender]]], each part a
// three-letter NetHack abbreviation or "@" for random) and returns the NetHack player name
// that carries it ("Agent-<character>").
func playerName(character string) (string, error) {
	if character == "" {
		character = DefaultCharacter
	}
	parts := strings.Split(character, "-")
	tables := [][]string{roles, races, aligns, genders}
	names := []string{"role", "race", "alignment", "gender"}
	if len(parts) > len(tables) {
		return "", fmt.Errorf("nethack: malformed character %q: want role-race-alignment-gender such as %q, or %q for random", character, DefaultCharacter, "@")
	}
	for i, p := range parts {
		if p == "@" || slices.Contains(tables[i], strings.ToLower(p)) {
			continue
		}
		return "", fmt.Errorf("nethack: malformed character %q: unknown %s %q; valid: %s or @ for random", character, names[i], p, strings.Join(tables[i], ", "))
	}
	return "Agent-" + character, nil
}
