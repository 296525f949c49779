//! What the kernel side knows about a packet (`struct ferret_meta`) and the
//! ring buffer record that carries it to userspace (`struct ferret_event`).

pub const TCP_FIN: u8 = 0x01;
pub const TCP_SYN: u8 = 0x02;
pub const TCP_RST: u8 = 0x04;
pub const TCP_PSH: u8 = 0x08;
pub const TCP_ACK: u8 = 0x10;
pub const TCP_URG: u8 = 0x20;

pub const EVENT_PACKET: u32 = 1;

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Meta {
    pub skb: u64,
    pub ts_ns: u64,
    pub location: u64,
    pub cpu: u32,
    pub pid: u32,
    pub tid: u32,
    pub netns: u32,
    pub ifindex: u32,
    pub mark: u32,
    pub len: u32,
    pub mtu: u32,
    pub reason: u32,
    pub func_id: u32,
    pub present: u32,
    pub family: u16,
    pub proto: u8,
    pub tcpflags: u8,
    pub ttl: u8,
    /// Bit i: pcap-filter part i of the rule last evaluated accepted the
    /// packet (field `PCAP`).
    pub pcap: u8,
    pub sport: u16,
    pub dport: u16,
    /// Where in a traced tc/XDP program (`prog_at::ENTER`, `LEAVE`); 0
    /// for every other event. A leave event's `location` holds the
    /// program's return value.
    pub prog_at: u16,
    pub saddr: [u8; 16],
    pub daddr: [u8; 16],
    pub ifname: [u8; 16],
    pub comm: [u8; 16],
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventHeader {
    pub kind: u32,
    pub hook: u32,
    pub rules: u64,
    pub stack_id: i32,
    pub cap_len: u32,
    pub cap_l2: u32,
    /// Packet length from where the capture starts (pcap-ng original length).
    pub wire_len: u32,
    pub meta: Meta,
}
