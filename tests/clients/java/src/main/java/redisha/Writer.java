// SPDX-License-Identifier: Apache-2.0
package redisha;

import io.lettuce.core.RedisException;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import java.util.Arrays;

/**
 * The Lettuce configuration from docs/clients.md ({@link RedisHa#connect}) in a write loop for
 * tests/clients/lab.py: SET every 10 ms, print "gap start_ms end_ms" when two successful writes
 * are more than 200 ms apart. Environment: SENTINELS, MASTER_SET, REDIS_PASSWORD, optional
 * REDIS_USERNAME and TLS_CA_FILE.
 */
public final class Writer {

    public static void main(String[] args) throws InterruptedException {
        String user = System.getenv("REDIS_USERNAME");
        String ca = System.getenv("TLS_CA_FILE");
        StatefulRedisConnection<String, String> conn = RedisHa.connect(
                Arrays.asList(System.getenv("SENTINELS").split(",")), System.getenv("MASTER_SET"),
                user == null || user.isEmpty() ? null : user, System.getenv("REDIS_PASSWORD"),
                ca == null || ca.isEmpty() ? null : ca);
        RedisCommands<String, String> redis = conn.sync();
        long last = System.currentTimeMillis();
        boolean failing = false;
        for (long i = 0; ; i++) {
            try {
                redis.set("lab:java", Long.toString(i));
                long now = System.currentTimeMillis();
                if (now - last > 200) {
                    System.out.println("gap " + last + " " + now);
                }
                last = now;
                failing = false;
            } catch (RedisException e) {
                if (!failing) {
                    System.out.println("err " + System.currentTimeMillis() + " " + e);
                }
                failing = true;
            }
            Thread.sleep(10);
        }
    }
}
