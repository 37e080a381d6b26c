class Main {
    public static void main(String[] args) {
        System.out.println(<|cursor|>);
    }
}
<|raw|>
"Hello");
<|expected|>
"Hello"
<|end|>
