// Exact hypervolume of a set of minimised objective vectors: the measure of the region they
// dominate and that dominates the reference point, the search's per-generation progress number.
//
//   double hv = hypervolume(points, reference);   // {{1, 3}, {2, 1}} w.r.t. {4, 4}: 7
//
// Two objectives by a sweep in O(n log n); more by slicing along the last objective and recursing
// (O(n^(d-1) log n): fine for the 1..4 objectives and tens of points a search has).
#pragma once

#include <span>
#include <vector>

namespace hwnas {

// Points that do not strictly dominate the reference in every objective add nothing. Throws
// InvalidArgument when the reference is empty, a point's length differs from the reference's, or
// a value is not finite.
double hypervolume(std::span<const std::vector<double>> points, std::span<const double> reference);

}  // namespace hwnas
