//! Installing the deployment's Slack app into a community's workspace with
//! OAuth v2: the authorize URL a lead is sent to, and the exchange of the
//! code Slack sends back for a bot token.
