package main

func total(xs []int) int {
	s := 0
	for _, x := range xs {
		<|cursor|>
	}
	return s
}
<|raw|>
		s += x
	}
	return s
}

<|expected|>
s += x
<|end|>
