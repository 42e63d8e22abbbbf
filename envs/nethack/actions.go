package nethack

// Key codes of NLE's action enums (nle/nethack/actions.py): M(c) = 0x80|c, C(c) = 0x1f&c.
const (
	KeyMore  uint8 = 13  // MiscAction.MORE (Enter)
	KeyEsc   uint8 = 27  // Command.ESC
	KeySpace uint8 = 32  // TextCharacters.SPACE
	KeyQuit  uint8 = 241 // Command.QUIT (M-q)
	KeyYes   uint8 = 'y'
)

var compass = []uint8{107, 108, 106, 104, 117, 110, 98, 121}     // k l j h u n b y
var compassLonger = []uint8{75, 76, 74, 72, 85, 78, 66, 89}      // K L J H U N B Y
var miscDirection = []uint8{60, 62, 46}                          // < > .
var textCharacters = []uint8{43, 45, 32, 39, 34, 48, 49, 50, 51, // + - space ' " 0..3
	52, 53, 54, 55, 56, 57, 36} // 4..9 $

// commands in NLE's Command enum order.
var commands = []uint8{
	35, 191, 225, 193, 97, 24, 64, 67, 90, 227, 99, 195, 228, 100, 68, 101, 69, 229, 27, 70,
	102, 230, 59, 86, 105, 73, 233, 234, 4, 92, 96, 58, 236, 237, 109, 77, 239, 111, 79, 15,
	112, 44, 240, 80, 113, 241, 81, 114, 18, 82, 210, 242, 103, 71, 83, 115, 42, 34, 91, 36,
	61, 43, 40, 94, 41, 33, 243, 120, 84, 65, 20, 116, 212, 95, 244, 88, 245, 246, 118, 87,
	38, 47, 119, 247, 122,
}

func concat(parts ...[]uint8) []uint8 {
	var out []uint8
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// Actions returns NLE's full ACTIONS table (121 key codes, in NLE's order): compass 0-7,
// long compass 8-15, misc directions 16-18, MORE 19, commands 20-104, text characters 105-120.
func Actions() []uint8 {
	return concat(compass, compassLonger, miscDirection, []uint8{KeyMore}, commands, textCharacters)
}

// UsefulActions returns NLE's USEFUL_ACTIONS (86 key codes, in NLE's order), the action set of
// the base NetHack env. It reproduces NLE's quirk: removing PLUS, QUOTE and DOLLAR by IntEnum
// equality also removed SEESPELLS, SEEAMULET and SEEGOLD, which share their codes.
func UsefulActions() []uint8 {
	return append([]uint8(nil), usefulActions...)
}

var usefulActions = []uint8{107, 108, 106, 104, 117, 110, 98, 121, 75, 76, 74, 72, 85, 78, 66,
	89, 60, 62, 46, 13, 225, 97, 24, 67, 90, 227, 99, 228, 100, 68, 101, 69, 229, 27, 70, 102,
	230, 105, 73, 233, 234, 4, 58, 236, 237, 109, 77, 239, 111, 112, 44, 240, 80, 113, 81, 114,
	82, 210, 242, 103, 71, 115, 91, 61, 40, 94, 41, 33, 243, 120, 84, 65, 116, 212, 244, 88, 245,
	118, 87, 119, 247, 122, 43, 34, 36, 32}

// TaskActions returns NLE's TASK_ACTIONS (23 key codes): MORE, the 16 compass moves, up,
// down, wait, kick, eat and search.
func TaskActions() []uint8 {
	return concat([]uint8{KeyMore}, compass, compassLonger, miscDirection, []uint8{4, 101, 115})
}
