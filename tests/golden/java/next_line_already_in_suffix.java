class Job {
    public void run() {<|cursor|>
        start();
    }
}
<|raw|>

        start();
    }
<|expected|>

<|end|>
