def greet(name):
    <|cursor|>
<|raw|>
```python
    return f"Hello, {name}"
```

<|expected|>
return f"Hello, {name}"
<|end|>
