// e2e_real_jvm's workload: threads that share a monitor, allocate native
// memory through zlib (Deflater) and direct buffers, and take the JVM's
// own SIGSEGV paths (implicit null checks, a stack overflow); its output
// is deterministic, its exit status the first argument.
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.Deflater;

public class JvmWork {
    static int depth;

    static void recurse() {
        depth++;
        recurse();
    }

    static int hash(Object o) {
        return o.hashCode();
    }

    static long work(int id, Object lock, long[] shared) {
        long s = 0;
        byte[] in = new byte[4096];
        for (int i = 0; i < in.length; i++)
            in[i] = (byte) (i * 7 + id);
        byte[] out = new byte[8192];
        for (int i = 0; i < 2000; i++) {
            ByteBuffer b = ByteBuffer.allocateDirect(1024 + (i % 64) * 16);
            b.put(0, (byte) i);
            s += b.get(0);
            Deflater d = new Deflater();
            d.setInput(in);
            d.finish();
            s += d.deflate(out);
            d.end();
            try {
                s += hash(i % 2 == 0 ? null : "x") & 1;
            } catch (NullPointerException e) {
                s += 2;
            }
            synchronized (lock) {
                shared[0]++;
            }
        }
        return s;
    }

    public static void main(String[] args) throws Exception {
        int status = Integer.parseInt(args[0]);
        final Object lock = new Object();
        final long[] shared = new long[1];
        final long[] res = new long[4];
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < res.length; t++) {
            final int id = t;
            Thread th = new Thread(() -> res[id] = work(id, lock, shared));
            th.start();
            threads.add(th);
        }
        for (Thread th : threads)
            th.join();
        try {
            recurse();
        } catch (StackOverflowError e) {
            System.out.println("stack overflow caught: " + (depth > 1000));
        }
        System.out.println("results " + Arrays.toString(res) + " shared " + shared[0]);
        System.exit(status);
    }
}
