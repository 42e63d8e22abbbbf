// Package logs writes what a training run shows a person: TensorBoard event files
// (TensorBoard, written without TensorFlow) and learning-curve plots (PlotCurves, PNG via
// gonum/plot). It sits apart from rl so the learning code pulls in no plotting, fonts or
// image libraries.
//
// # Invariants
//   - A TensorBoard's event file is valid after every Flush: each record carries its length and
//     masked CRC-32C as TensorBoard's reader checks them.
//   - PlotCurves writes its file atomically: a crash leaves the old plot or the new one.
package logs
