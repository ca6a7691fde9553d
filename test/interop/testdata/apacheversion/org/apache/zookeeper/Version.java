package org.apache.zookeeper;

/**
 * Stand-in for Debian ZooKeeper 3.8.0's Version class, used only when the
 * go-zookeeper suite runs against Apache (ZKD_INTEROP_SELFTEST=1).
 *
 * Debian's jar reports "3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC".
 * go-zookeeper v1.0.4's FLWSrvr only accepts "<[A-Za-z0-9.-]+>, built on MM/DD/YYYY HH:MM <zone>",
 * so every integration test of that suite times out waiting for srvr. Putting this
 * class ahead of zookeeper.jar on the classpath changes nothing but the version line.
 */
public class Version {
    private static final String VERSION = "3.8.0";
    private static final String REVISION_HASH = "debian";
    private static final String BUILD_DATE = "12/29/2024 17:54 GMT";

    @Deprecated
    public static int getRevision() {
        return -1;
    }

    public static String getRevisionHash() {
        return REVISION_HASH;
    }

    public static String getBuildDate() {
        return BUILD_DATE;
    }

    public static String getVersion() {
        return VERSION;
    }

    public static String getVersionRevision() {
        return getVersion() + "-" + getRevisionHash();
    }

    public static String getFullVersion() {
        return getVersionRevision() + ", built on " + getBuildDate();
    }

    public static void printUsage() {
        System.out.println("Usage: java -cp ... org.apache.zookeeper.Version [--full | --short | --revision]");
    }

    public static void main(String[] args) {
        if (args.length > 1) {
            printUsage();
            return;
        }
        if (args.length == 0 || args[0].equals("--full")) {
            System.out.println(getFullVersion());
        } else if (args[0].equals("--short")) {
            System.out.println(getVersion());
        } else if (args[0].equals("--revision")) {
            System.out.println(getVersionRevision());
        } else {
            printUsage();
        }
    }
}
