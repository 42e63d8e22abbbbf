// Command play runs a uniformly random agent in a NetHack task and shows the screen in the
// terminal (`make play`); a baseline to watch and a check that NLE runs.
//
// # Invariants
//   - It only plays: nothing is written but the ttyrecs of --ttyrec-dir.
package main
