#include <stdio.h>
int main(void) {
    int count = 2;
    printf("%d\n", <|cursor|>);
}
<|raw|>
count);
<|expected|>
count
<|end|>
