package main

func add(a, b int) int {
	<|cursor|>
}
<|raw|>
	return a + b
}

func sub(a, b int) int {

<|expected|>
return a + b
<|end|>
