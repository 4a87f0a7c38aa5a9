// sockaddr.hpp: `[HOST:]PORT` parsing and the socket addresses built from it.
#include "sockaddr.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

namespace {

using welld::HostPortError;

TEST(ParseHostPort, Ipv4HostAndPort) {
  auto a = welld::parse_host_port("10.1.2.3:8080", "127.0.0.1");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "10.1.2.3");
  EXPECT_EQ(a->port, 8080);
}

TEST(ParseHostPort, BracketedIpv6) {
  auto a = welld::parse_host_port("[::1]:443", "127.0.0.1");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "::1");
  EXPECT_EQ(a->port, 443);
}

TEST(ParseHostPort, BarePortTakesTheDefaultHost) {
  auto a = welld::parse_host_port("65535", "127.0.0.1");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 65535);
  auto b = welld::parse_host_port("1", "::");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host, "::");
  EXPECT_EQ(b->port, 1);
}

TEST(ParseHostPort, BadPortsRefused) {
  for (const char* text : {"0", "65536", "http", "12ab", "", "127.0.0.1:", "-1", " 80", "[::1]:0"}) {
    HostPortError why = HostPortError::host;
    EXPECT_FALSE(welld::parse_host_port(text, "127.0.0.1", &why)) << text;
    EXPECT_EQ(why, HostPortError::port) << text;
  }
}

TEST(ParseHostPort, NonNumericHostRefused) {
  const std::vector<std::string> texts = {"localhost:80", "example.com:80", "[localhost]:80", "1.2.3:80",
                                          std::string("127.0.0.1\0x:80", 14)};
  for (const auto& text : texts) {
    HostPortError why = HostPortError::port;
    EXPECT_FALSE(welld::parse_host_port(text, "127.0.0.1", &why)) << text;
    EXPECT_EQ(why, HostPortError::host) << text;
  }
}

TEST(ParseHostPort, UnclosedBracketRefused) {
  for (const char* text : {"[::1", "[::1]", "[::1]80"}) {
    HostPortError why = HostPortError::port;
    EXPECT_FALSE(welld::parse_host_port(text, "127.0.0.1", &why)) << text;
    EXPECT_EQ(why, HostPortError::brackets) << text;
  }
  HostPortError why = HostPortError::brackets;
  EXPECT_FALSE(welld::parse_host_port("[::1]:", "127.0.0.1", &why));
  EXPECT_EQ(why, HostPortError::port);
}

TEST(ParseHostPort, PortCheckedBeforeHost) {
  HostPortError why = HostPortError::host;
  EXPECT_FALSE(welld::parse_host_port("localhost:0", "127.0.0.1", &why));
  EXPECT_EQ(why, HostPortError::port);
}

TEST(IpAddress, Ipv4) {
  auto a = welld::ip_address("192.0.2.7", 8080);
  ASSERT_TRUE(a);
  ASSERT_EQ(a->family(), AF_INET);
  EXPECT_EQ(a->length, sizeof(sockaddr_in));
  const auto* v4 = reinterpret_cast<const sockaddr_in*>(a->get());
  EXPECT_EQ(ntohs(v4->sin_port), 8080);
  EXPECT_EQ(ntohl(v4->sin_addr.s_addr), 0xC0000207U);
}

TEST(IpAddress, Ipv6) {
  auto a = welld::ip_address("::1", 443);
  ASSERT_TRUE(a);
  ASSERT_EQ(a->family(), AF_INET6);
  EXPECT_EQ(a->length, sizeof(sockaddr_in6));
  const auto* v6 = reinterpret_cast<const sockaddr_in6*>(a->get());
  EXPECT_EQ(ntohs(v6->sin6_port), 443);
  EXPECT_TRUE(IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr));
}

TEST(IpAddress, NamesAndEmbeddedNulRefused) {
  EXPECT_FALSE(welld::ip_address("localhost", 80));
  EXPECT_FALSE(welld::ip_address("", 80));
  EXPECT_FALSE(welld::ip_address(std::string("127.0.0.1\0junk", 14), 80));
  EXPECT_TRUE(welld::numeric_address("0.0.0.0"));
  EXPECT_FALSE(welld::numeric_address("::1%lo"));
}

TEST(UnixPathAddress, PathLengthLimit) {
  std::string longest(welld::kUnixPathMax, 'x');
  auto a = welld::unix_path_address(longest);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->family(), AF_UNIX);
  EXPECT_EQ(a->length, offsetof(sockaddr_un, sun_path) + welld::kUnixPathMax + 1);
  const auto* un = reinterpret_cast<const sockaddr_un*>(a->get());
  EXPECT_EQ(std::string(un->sun_path), longest);
  EXPECT_FALSE(welld::unix_path_address(longest + "x"));
  EXPECT_FALSE(welld::unix_path_address(""));
  EXPECT_FALSE(welld::unix_path_address(std::string("/a\0b", 4)));
}

TEST(NotifySocketAddress, AbstractNameHasLeadingNulAndNoTerminator) {
  auto a = welld::notify_socket_address("@welld/x");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->length, offsetof(sockaddr_un, sun_path) + 8);
  const auto* un = reinterpret_cast<const sockaddr_un*>(a->get());
  EXPECT_EQ(un->sun_path[0], '\0');
  EXPECT_EQ(std::memcmp(un->sun_path + 1, "welld/x", 7), 0);
}

TEST(NotifySocketAddress, PathIsTerminatedAndRelativeRefused) {
  auto a = welld::notify_socket_address("/run/notify");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->length, offsetof(sockaddr_un, sun_path) + 12);
  EXPECT_FALSE(welld::notify_socket_address("run/notify"));
  EXPECT_FALSE(welld::notify_socket_address(""));
  EXPECT_FALSE(welld::notify_socket_address("/" + std::string(welld::kUnixPathMax, 'x')));
}

}  // namespace
