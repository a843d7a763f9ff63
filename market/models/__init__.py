"""All models, imported so that metadata and Alembic see every table."""
from .auction import AuctionBid, AuctionDeposit, AuctionLot, AuctionLotEvent, AuctionProxy, AuctionSession
from .agency import AGENCY_SERVICES, AgencyProfile, AgencyService, BrokerProfile, DemandCollection, Expert, ExpertField
from .api_token import API_SCOPES, ApiIdempotencyKey, ApiToken  # the open API's tokens (issue 21)
from .campaign import (
    Campaign, CampaignCriterion, CampaignMilestone, CampaignPanelist, CampaignProposal, CampaignProposalFile, CampaignScore,
    CampaignTask,
)
from .contract import CONTRACT_TYPES, Contract, ContractAudit, Payment, Target
from .contract_link import ContractListingLink
from .deal import Deal, DealEvent, FormSubmission, Interest, InterestEvent
from .feedback import MatchFeedback
from .field import Field
from .happening import Happening, HappeningListing, HappeningSession, HappeningSignup
from .import_run import ImportRun
from .job import Job, LogCursor
from .listing import (
    LISTING_MODELS,
    Achievement,
    Demand,
    IndexChange,
    ListingEvent,
    ListingMixin,
    Suggestion,
)
from .member import OrgInvitation
from .notification import MAIL_MODES, MailDigest, Notification, NotificationPref
from .org import Organization
from .reg_code import RegCode
from .region import Region
from .registration import RegPoint, RegStep, WorkCalendarDay
from .review_reason import ReturnReason
from .revision import ListingRevision
from .search_rebuild import SearchRebuild
from .stats import ContractMonthStat
from . import checks as _checks  # noqa: F401  (the data checks' indexes and triggers)
from .subscription import SUBSCRIPTION_KINDS, Subscription
from .transfer import Disclosure, DisclosureObjection, PriceListing  # 公示 and 挂牌 (issue 20)
from .user import LoginFailure, User, UserSession
from .write_counter import WriteCounter

__all__ = [
    "AGENCY_SERVICES",
    "AuctionBid",
    "AuctionDeposit",
    "AuctionLot",
    "AuctionLotEvent",
    "AuctionProxy",
    "AuctionSession",
    "AgencyProfile",
    "AgencyService",
    "BrokerProfile",
    "Expert",
    "ExpertField",
    "CONTRACT_TYPES",
    "Contract",
    "Deal",
    "DealEvent",
    "FormSubmission",
    "Interest",
    "InterestEvent",
    "MAIL_MODES",
    "MailDigest",
    "Notification",
    "NotificationPref",
    "SUBSCRIPTION_KINDS",
    "Subscription",
    "ContractAudit",
    "ContractListingLink",
    "ContractMonthStat",
    "Payment",
    "Target",
    "Achievement",
    "Campaign",
    "CampaignCriterion",
    "CampaignMilestone",
    "CampaignPanelist",
    "CampaignProposal",
    "CampaignProposalFile",
    "CampaignScore",
    "CampaignTask",
    "Demand",
    "DemandCollection",
    "Field",
    "Happening",
    "HappeningListing",
    "HappeningSession",
    "HappeningSignup",
    "ImportRun",
    "IndexChange",
    "Job",
    "LogCursor",
    "LISTING_MODELS",
    "ListingEvent",
    "ListingRevision",
    "ListingMixin",
    "LoginFailure",
    "MatchFeedback",
    "Organization",
    "OrgInvitation",
    "RegCode",
    "Region",
    "RegPoint",
    "RegStep",
    "WorkCalendarDay",
    "ReturnReason",
    "SearchRebuild",
    "Suggestion",
    "User",
    "UserSession",
    "WriteCounter",
    "Disclosure",
    "DisclosureObjection",
    "PriceListing",
]
