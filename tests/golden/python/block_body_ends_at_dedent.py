def add(a, b):
    <|cursor|>

print(add(1, 2))
<|raw|>
    return a + b

def sub(a, b):
    return a - b

<|expected|>
return a + b
<|end|>
