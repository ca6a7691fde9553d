package bench

import "sort"

// Spread is the median of repeated measurements with their extremes.
type Spread struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	N      int     `json:"n"`
}

// spreadOf summarises values; the median of an even count is the mean of
// the middle two.
func spreadOf(values []float64) Spread {
	if len(values) == 0 {
		return Spread{}
	}
	sorted := append([]float64(nil), values...)
	sort.Float64s(sorted)
	n := len(sorted)
	median := sorted[n/2]
	if n%2 == 0 {
		median = (sorted[n/2-1] + sorted[n/2]) / 2
	}
	return Spread{Median: median, Min: sorted[0], Max: sorted[n-1], N: n}
}

// ratios divides paired measurements, skipping pairs with a zero
// denominator.
func ratios(numerators, denominators []float64) []float64 {
	var out []float64
	for i := range min(len(numerators), len(denominators)) {
		if denominators[i] != 0 {
			out = append(out, numerators[i]/denominators[i])
		}
	}
	return out
}
