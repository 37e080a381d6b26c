def area(r):
    <|cursor|>
    return PI * r * r
<|raw|>
    r = float(r)
    return PI * r * r

<|expected|>
r = float(r)
<|end|>
