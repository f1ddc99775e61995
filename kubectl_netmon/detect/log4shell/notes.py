"""Notice names and messages; names keep the Zeek package's prefix so existing SIEM rules match."""

from __future__ import annotations

PREFIX = "CVE_2021_44228::"
ATTEMPT_HEADER = PREFIX + "LOG4J_ATTEMPT_HEADER"
ATTEMPT_URI = PREFIX + "LOG4J_ATTEMPT_URI"
ATTEMPT_BODY = PREFIX + "LOG4J_ATTEMPT_BODY"
ATTEMPT_OTHER = PREFIX + "LOG4J_ATTEMPT_OTHER"
LDAP_JAVA = PREFIX + "LOG4J_LDAP_JAVA"
RMI_JAVA = PREFIX + "LOG4J_RMI_JAVA"
JAVA_CLASS_DOWNLOAD = PREFIX + "LOG4J_JAVA_CLASS_DOWNLOAD"
CALLBACK = PREFIX + "LOG4J_CALLBACK"

ATTEMPTS = (ATTEMPT_HEADER, ATTEMPT_URI, ATTEMPT_BODY, ATTEMPT_OTHER)
# The order of the stages in an attack chain (how a chain lists what it has seen).
STAGES = (*ATTEMPTS, CALLBACK, LDAP_JAVA, RMI_JAVA, JAVA_CLASS_DOWNLOAD)

_ATTEMPT = ("Possible Log4j exploit CVE-2021-44228 exploit in {}. Refer to sub field for sample of "
            "payload and its normalised form")
MSG = {
    ATTEMPT_HEADER: "Possible Log4j exploit CVE-2021-44228 exploit in header. Refer to sub field "
                    "for sample of payload, original_URI and list of server headers",
    ATTEMPT_URI: _ATTEMPT.format("URI"),
    ATTEMPT_BODY: _ATTEMPT.format("HTTP body"),
    ATTEMPT_OTHER: _ATTEMPT.format("payload"),
    LDAP_JAVA: "Possible Log4j exploit CVE-2021-44228 exploit, JAVA over LDAP. Refer to sub field "
               "for sample of payload.",
    RMI_JAVA: "Possible Log4j exploit CVE-2021-44228 exploit, JAVA over RMI. Refer to sub field "
              "for sample of payload.",
    JAVA_CLASS_DOWNLOAD: "Possible Log4j CVE-2021-44228 exploit, Java has downloaded a Java class "
                         "over HTTP indicating a potential second stage, after the primary LDAP "
                         "request. Refer to sub field for user_agent and mime-type",
    CALLBACK: "Possible Log4j CVE-2021-44228 callback: a host that received a lookup string "
              "connected to the host named in it. Refer to sub field for the lookup",
}
