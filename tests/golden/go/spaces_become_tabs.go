package main

func add(a, b int) int {
	<|cursor|>
}
<|raw|>
    sum := a + b
    return sum
}
<|expected|>
sum := a + b
	return sum
<|end|>
