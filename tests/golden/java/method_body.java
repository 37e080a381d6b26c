public class MathUtil {
    public static int max(int a, int b) {
        <|cursor|>
    }
}
<|raw|>
        return a > b ? a : b;
    }

    public static int min(int a, int b) {
<|expected|>
return a > b ? a : b;
<|end|>
