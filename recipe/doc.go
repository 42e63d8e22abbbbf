// Package recipe builds the training setups Maestro's commands run, from a few options: the
// batched env (CartPole, or a NetHack task with MaestroMotif's skill controllers), its learner
// with the right model and hyper-parameters, and sample-factory's overlapped collector. train,
// train eval and the tests build them here, so the wiring is written once.
//
// # Invariants
//   - The same Options give the same setup: envs, network initialisation and sampling are all
//     seeded from Options.Seed (NetHack also reads the clock).
//   - A failed Build closes every env it opened.
package recipe
