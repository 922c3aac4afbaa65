module tokenwatch.local/tfp1

go 1.21
