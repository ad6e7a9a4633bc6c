package output

import "math"

var nan = math.NaN()
