/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Wire-format numbers the parsers read packet headers by: ethertypes, IP
 * protocol numbers and header offsets. The headers are read as raw bytes
 * (their layout is fixed on the wire), so these offsets are the layout.
 */
#ifndef FERRET_NET_BPF_H
#define FERRET_NET_BPF_H

#define ETH_HLEN 14
#define ETH_ALEN 6
#define ETH_TYPE_OFF 12 /* the ethertype in an Ethernet header */
#define ETH_P_IP 0x0800
#define ETH_P_ARP 0x0806
#define ETH_P_IPV6 0x86DD
#define ARPHRD_ETHER 1 /* net_device types that carry Ethernet headers */
#define ARPHRD_LOOPBACK 772

#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IPPROTO_SCTP 132
#define IPPROTO_UDPLITE 136

/* IPv4 header (RFC 791): bytes from the start of the header. */
#define IPV4_MIN_HLEN 20
#define IPV4_ALEN 4
#define IPV4_FRAG_OFF 6 /* flags and fragment offset, 2 bytes */
#define IPV4_FRAG_HI_MASK 0x1f /* fragment offset bits of the first byte */
#define IPV4_TTL_OFF 8
#define IPV4_PROTO_OFF 9
#define IPV4_SADDR_OFF 12
#define IPV4_DADDR_OFF 16

/* IPv6 header (RFC 8200) and the extension headers walked past it. */
#define IPV6_HLEN 40
#define IPV6_NEXTHDR_OFF 6
#define IPV6_HOPLIMIT_OFF 7
#define IPV6_SADDR_OFF 8
#define IPV6_DADDR_OFF 24
#define IPV6_EXT_HOPOPTS 0
#define IPV6_EXT_ROUTING 43
#define IPV6_EXT_FRAGMENT 44
#define IPV6_EXT_AH 51
#define IPV6_EXT_DSTOPTS 60
#define IPV6_FRAG_OFFSET_MASK 0xfff8 /* fragment offset bits of bytes 2..3 */
#define IPV6_EXT_MAX 4 /* extension headers walked before giving up */

/* Ethernet/IPv4 ARP (RFC 826): the fixed part and the protocol addresses. */
#define ARP_ETH_IPV4_LEN 28
#define ARP_PTYPE_OFF 2 /* protocol type, 2 bytes */
#define ARP_HLEN_OFF 4  /* hardware address length */
#define ARP_PLEN_OFF 5  /* protocol address length */
#define ARP_SPA_OFF 14
#define ARP_TPA_OFF 24

/* Transport headers: ports first (TCP, UDP, SCTP, UDP-Lite), TCP flags at 13. */
#define L4_PORTS_LEN 4
#define TCP_FLAGS_OFF 13
#define L4_READ_LEN 14 /* the transport header bytes ferret reads */

#endif
