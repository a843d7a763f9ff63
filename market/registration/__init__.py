"""技术合同登记: 登记点, 登记员, online submissions, registration with a 登记编号 and a 登记证明 (issue 16 item 4)."""
