import java.util.*;
class Names {
    List<String> names = new ArrayList<<|cursor|>();
}
<|raw|>
>();
<|expected|>
>
<|end|>
