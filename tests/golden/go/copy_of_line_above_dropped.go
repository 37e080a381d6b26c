package main

func main() {
	x := compute(1)
	<|cursor|>
}
<|raw|>
	x := compute(1)

<|expected|>

<|end|>
