class Stack {
public:
    bool empty() const {
        <|cursor|>
    }
};
<|raw|>
        return items.empty();
    }

private:
<|expected|>
return items.empty();
<|end|>
