def add(a, b):
    <|cursor|>

print(add(1, 2))
<|raw|>
This function takes two numbers as input and returns their sum. It uses the built-in `add` function from Python's built-in `math` module to perform the addition.
<|expected|>

<|end|>
