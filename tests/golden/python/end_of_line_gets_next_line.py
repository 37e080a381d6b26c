def double(x):<|cursor|>

print(double(2))
<|raw|>

    return x * 2

print
<|expected|>

    return x * 2
<|end|>
