// e2e_real_jvm's attach target: two threads compress in a loop, sleeping
// between rounds (idle system calls for the attach), until the file named
// by the first argument exists; then a deterministic line and status 7.
import java.io.File;
import java.util.zip.Deflater;

public class JvmServe {
    public static void main(String[] args) throws Exception {
        final File stop = new File(args[0]);
        final long[] rounds = new long[2];
        Thread[] ts = new Thread[2];
        for (int t = 0; t < ts.length; t++) {
            final int id = t;
            ts[t] = new Thread(() -> {
                byte[] in = new byte[2048];
                byte[] out = new byte[4096];
                while (!stop.exists()) {
                    Deflater d = new Deflater();
                    d.setInput(in);
                    d.finish();
                    d.deflate(out);
                    d.end();
                    rounds[id]++;
                    try {
                        Thread.sleep(2);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
            ts[t].start();
        }
        System.out.println("ready");
        for (Thread t : ts)
            t.join();
        System.out.println("stopped, both threads ran: " + (rounds[0] > 0 && rounds[1] > 0));
        System.exit(7);
    }
}
