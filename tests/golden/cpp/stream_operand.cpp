#include <iostream>
int main() {
    int value = 1;
    std::cout << <|cursor|> << std::endl;
}
<|raw|>
value << std::endl;
<|expected|>
value
<|end|>
